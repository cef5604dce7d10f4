/**
 * The client's types without the DOM library (a Node program, or a worker
 * built with its own fetch): type-checked with `lib: ["es2022"]` and no
 * @types packages, against the package installed from the tarball. Proves
 * tandem.d.ts needs no DOM or Node typings, and that hand-made fetch and
 * WebSocket implementations fit the options.
 */
import { createClient, Client, type FetchLike, type WebSocketLike, type Doc } from '@tandem/client';

const fetchStub: FetchLike = async (url, init) => ({
  status: 200,
  headers: { get: (name: string) => (name === 'ETag' ? '"1"' : null) },
  text: async () => JSON.stringify({ id: 'a', version: 1, created_at: '', updated_at: '', url, method: init.method }),
});

class SocketStub implements WebSocketLike {
  readyState = 0;
  onopen: ((ev: unknown) => void) | null = null;
  onmessage: ((ev: { data: string }) => void) | null = null;
  onclose: ((ev: unknown) => void) | null = null;
  onerror: ((ev: unknown) => void) | null = null;
  constructor(readonly url: string) {}
  send(data: string): void { void data; }
  close(code?: number): void { void code; this.readyState = 3; }
}

const client: Client = createClient({ baseUrl: 'http://127.0.0.1:8080', fetch: fetchStub, WebSocket: SocketStub });
export async function main(): Promise<Doc<{ title: string }>> {
  return client.collection<{ title: string }>('todos').get('a');
}
