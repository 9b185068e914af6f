// Preload for the crawler (node -r): each client request's creation (node:http's, or sitemirror's http1.ts), its write to the socket (with the
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
// sitemirror's own HTTP/1.1 client (src/http1.ts) tells the same steps on a channel of its own.
const byExchange = new WeakMap();
diagnostics.subscribe('sitemirror.http1.exchange', ({ step, exchange, socket }) => {
  if (step === 'created') {
    const [, target] = exchange.requestHead.split(' ', 2);
    const host = /\r\nhost: ([^\r]*)/.exec(exchange.requestHead)?.[1];
    const row = { url: `http://${host}${target}`, created: micros() };
    byExchange.set(exchange, row);
    rows.push(row);
    return;
  }
  const row = byExchange.get(exchange);
  if (!row) return;
  if (step === 'sent') {
    row.sent = micros();
    // The first request on a connection is written while it connects: its port is known once connected.
    if (socket.localPort !== undefined) row.port = socket.localPort;
    else socket.once('connect', () => (row.port = socket.localPort));
  } else if (step === 'head') row.headers = micros();
  else if (step === 'ended') row.ended = micros();
});
process.on('exit', () => rows.length > 0 && writeFileSync(join(process.env.GAPS_DIR, 'client.json'), JSON.stringify({ processStart, rows })));
