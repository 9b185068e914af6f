// Preload for the crawler (node -r): each node:http client request's creation, its write to the socket (with the
// local port), its response's headers parsed (the channel node names 'response.finish') and its body's end, from node's diagnostics channels and the request's 'finish' event, on the
// monotonic clock; written at exit to $GAPS_DIR/client.json with the process's start. Used by bench/gaps/run.mjs.
const diagnostics = require('node:diagnostics_channel');
const { writeFileSync } = require('node:fs');
const { join } = require('node:path');

const micros = () => Number(process.hrtime.bigint() / 1000n);
const processStart = micros() - Math.round(performance.now() * 1000);
const byRequest = new WeakMap();
const rows = [];
diagnostics.subscribe('http.client.request.start', ({ request }) => {
  const row = { url: `${request.protocol}//${request.getHeader('host')}${request.path}`, created: micros() };
  byRequest.set(request, row);
  rows.push(row);
  // 'finish': the request's headers (a GET has no body) are handed to the socket.
  request.once('finish', () => Object.assign(row, { sent: micros(), port: request.socket?.localPort }));
});
diagnostics.subscribe('http.client.response.finish', ({ request, response }) => {
  const row = byRequest.get(request);
  if (!row) return;
  row.headers = micros();
  response.once('end', () => (row.ended = micros()));
});
process.on('exit', () => rows.length > 0 && writeFileSync(join(process.env.GAPS_DIR, 'client.json'), JSON.stringify({ processStart, rows })));
