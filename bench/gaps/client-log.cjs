// Preload for the crawler (node -r): each undici request's creation, headers on the wire (with the local port),
// response headers and end, from undici's diagnostics channels, on the monotonic clock; written at exit to
// $GAPS_DIR/client.json with the process's start. Used by bench/gaps/run.mjs.
const diagnostics = require('node:diagnostics_channel');
const { writeFileSync } = require('node:fs');
const { join } = require('node:path');

const micros = () => Number(process.hrtime.bigint() / 1000n);
const processStart = micros() - Math.round(performance.now() * 1000);
const byRequest = new WeakMap();
const rows = [];
diagnostics.subscribe('undici:request:create', ({ request }) => {
  const row = { url: request.origin + request.path, created: micros() };
  byRequest.set(request, row);
  rows.push(row);
});
diagnostics.subscribe('undici:client:sendHeaders', ({ request, socket }) => {
  const row = byRequest.get(request);
  if (row) Object.assign(row, { sent: micros(), port: socket.localPort });
});
diagnostics.subscribe('undici:request:trailers', ({ request }) => {
  const row = byRequest.get(request);
  if (row) row.ended = micros();
});
process.on('exit', () => writeFileSync(join(process.env.GAPS_DIR, 'client.json'), JSON.stringify({ processStart, rows })));
