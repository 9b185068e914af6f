// Preload for bench/generate-site.mjs (node -r): when each request arrived and when its response was written, per
// socket (the client's port), on the monotonic clock both processes share. SIGUSR2 writes them to
// $GAPS_DIR/server.json and starts over. Used by bench/gaps/run.mjs.
const http = require('node:http');
const { writeFileSync } = require('node:fs');
const { join } = require('node:path');

const micros = () => Number(process.hrtime.bigint() / 1000n);
let rows = [];
const createServer = http.createServer;
http.createServer = function (...args) {
  const server = createServer.apply(this, args);
  server.prependListener('request', (request, response) => {
    const row = [request.socket.remotePort, micros(), 0];
    rows.push(row);
    response.on('finish', () => (row[2] = micros()));
  });
  return server;
};
process.on('SIGUSR2', () => {
  writeFileSync(join(process.env.GAPS_DIR, 'server.json'), JSON.stringify(rows));
  rows = [];
});
