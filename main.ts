/**
 * The `o` command line: parses the subcommand and hands over. No logic lives here.
 *
 * @module
 */
import { keyCommand, startCommand, tokenCommand } from "./supervisor/mod.ts";

const VERSION = "0.1.0";

const USAGE = `O — a runtime for self-improving agents (version ${VERSION})

Usage: main.ts COMMAND [options]     (every command takes --help)

Commands:
  start        run the supervisor and the HTTP API
  evolve       evolve one agent against its evals
  sandbox run  run untrusted code exactly as a candidate would run
  audit        run the sandbox escape and containment battery
  demo         the protected-evolution demo
  recover      check (and --repair) a data directory offline
  token        create, list or revoke API tokens
  key          create an at-rest encryption key
  worker       a distributed evaluation worker (Postgres vault)
  version      print the version`;

type Command = (args: string[]) => Promise<number>;

async function sandboxCommand(args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  if (sub === "run") return (await import("./sandbox/mod.ts")).sandboxRunCommand(rest);
  console.log(
    "Usage: main.ts sandbox run FILE [--tier jail|process|worker] [--timeout-ms N] [--memory-mb N] [--json]",
  );
  return sub === "--help" || sub === "-h" ? 0 : 2;
}

const COMMANDS: Record<string, Command> = {
  start: startCommand,
  sandbox: sandboxCommand,
  evolve: async (args) => (await import("./evolution/mod.ts")).evolveCommand(args),
  audit: async (args) => (await import("./sandbox/mod.ts")).auditCommand(args),
  demo: async (args) => (await import("./supervisor/demo.ts")).demoCommand(args),
  recover: async (args) => (await import("./vault/mod.ts")).recoverCommand(args),
  token: tokenCommand,
  key: keyCommand,
  worker: async (args) => (await import("./supervisor/worker_command.ts")).workerCommand(args),
  version: (args) => {
    if (args.includes("--help") || args.includes("-h")) {
      console.log("Usage: main.ts version [--json]\n\nPrints O's version and the Deno it runs on.");
      return Promise.resolve(0);
    }
    const unknown = args.filter((a) => a !== "--json");
    if (unknown.length > 0) {
      console.error(`version: unknown argument ${unknown[0]}`);
      return Promise.resolve(2);
    }
    const info = {
      o: VERSION,
      deno: Deno.version.deno,
      v8: Deno.version.v8,
      typescript: Deno.version.typescript,
    };
    console.log(args.includes("--json") ? JSON.stringify(info) : `o ${VERSION} (deno ${Deno.version.deno})`);
    return Promise.resolve(0);
  },
};

async function main(args: string[]): Promise<number> {
  const [name, ...rest] = args;
  if (name === undefined || name === "--help" || name === "-h" || name === "help") {
    console.log(USAGE);
    return name === undefined ? 2 : 0;
  }
  const command = COMMANDS[name];
  if (command === undefined) {
    console.error(`main.ts: unknown command '${name}'\n\n${USAGE}`);
    return 2;
  }
  return await command(rest);
}

if (import.meta.main) Deno.exit(await main(Deno.args));
