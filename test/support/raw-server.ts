// A TCP server that speaks HTTP only as far as finding each request's blank line: the test writes the response
// bytes itself (one write for head and body, malformed framing, a close mid-body), which node:http would not send.
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { once } from 'node:events';

export interface RawServer {
  origin: string;
  /** Connections accepted so far. */
  connections: () => number;
  /** The most connections open at once. */
  mostAtOnce: () => number;
  /** Ends every connection and stops listening. */
  close: () => void;
}

/** Hands each complete request head to answer, with the request's number on its connection (1 for the first). */
export async function startRawServer(answer: (socket: Socket, requestOnConnection: number, head: string) => void): Promise<RawServer> {
  let connections = 0;
  let open = 0;
  let most = 0;
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    connections++;
    most = Math.max(most, ++open);
    sockets.add(socket);
    socket.once('close', () => {
      open--;
      sockets.delete(socket);
    });
    let pending = '';
    let requests = 0;
    socket.on('data', (chunk) => {
      pending += chunk.toString('latin1');
      while (pending.includes('\r\n\r\n')) {
        const head = pending.slice(0, pending.indexOf('\r\n\r\n'));
        pending = pending.slice(head.length + 4);
        answer(socket, ++requests, head);
      }
    });
    socket.on('error', () => undefined);
  }).listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    connections: () => connections,
    mostAtOnce: () => most,
    close: () => {
      for (const socket of sockets) socket.destroy();
      server.close();
    },
  };
}
