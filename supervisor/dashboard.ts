/**
 * The dashboard page served at `GET /`. This first version lists live agents from `/health` and
 * `/v1/agents`, refreshed every two seconds; the operations issue grows it (fitness chart, lineage).
 *
 * @module
 */

/** The page's HTML (self-contained: no external asset). */
export function dashboardHtml(): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>O — dashboard</title>
<style>
body{font:14px system-ui,sans-serif;margin:2rem;color:#1d232a;background:#f7f8fa}
h1{font-size:1.4rem}table{border-collapse:collapse;background:#fff;min-width:40rem}
td,th{padding:.4rem .8rem;border-bottom:1px solid #e3e6ea;text-align:left}
.ok{color:#1a7f37}.degraded,.failed,.restarting{color:#cf222e}
</style></head>
<body><h1>O <span id="status"></span></h1>
<p>Uptime <span id="uptime">–</span> s</p>
<table><thead><tr><th>agent</th><th>version</th><th>status</th><th>seq</th><th>restarts</th><th>state bytes</th></tr></thead>
<tbody id="agents"></tbody></table>
<script>
async function refresh(){
  try{
    const h=await (await fetch('/health')).json();
    const a=await (await fetch('/v1/agents')).json();
    document.getElementById('status').textContent='· '+h.status;
    document.getElementById('status').className=h.status;
    document.getElementById('uptime').textContent=h.uptime_s;
    const rows=(a.agents||[]).map(x=>'<tr><td>'+esc(x.name)+'</td><td>'+esc(x.version)+'</td><td class="'+esc(x.status)+'">'+esc(x.status)+'</td><td>'+x.seq+'</td><td>'+x.restarts+'</td><td>'+x.state_bytes+'</td></tr>');
    document.getElementById('agents').innerHTML=rows.join('');
  }catch(e){document.getElementById('status').textContent='· unreachable';}
}
function esc(s){return String(s).replace(/[&<>"']/g,c=>({'&':'&amp;','<':'&lt;','>':'&gt;','"':'&quot;',"'":'&#39;'}[c]));}
refresh();setInterval(refresh,2000);
</script></body></html>`;
}
