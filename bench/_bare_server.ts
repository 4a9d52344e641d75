/**
 * The baseline server: a bare `Deno.serve` that parses the same JSON body O parses and answers JSON of
 * the same shape. Prints "listening PORT" on stderr.
 *
 * @module
 */
let seq = 0;
Deno.serve({
  port: 0,
  hostname: "127.0.0.1",
  onListen: ({ port }) => console.error(`listening ${port}`),
}, async (req) => {
  const body = await req.json(); // The same JSON O parses; no durability, no sandbox.
  return Response.json({ output: { ok: true, echo: body.input }, version: "bare", seq: ++seq });
});
