import type { ChildProcess } from 'node:child_process';

/** A command sent over the IPC channel; `id` pairs it with its reply. */
export interface IpcRequest {
  readonly id: number;
  readonly cmd: string;
  readonly args?: unknown;
}

/** The reply to one {@link IpcRequest}. */
export interface IpcReply {
  readonly id: number;
  readonly ok: boolean;
  readonly result?: unknown;
  readonly error?: string;
}

/** Request/reply over a child's IPC channel (the parent side). */
export class IpcClient {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve(value: unknown): void; reject(error: Error): void }>();

  constructor(private readonly child: ChildProcess, private readonly label: string) {
    child.on('message', (message: IpcReply) => {
      const waiter = this.pending.get(message.id);
      if (waiter === undefined) return;
      this.pending.delete(message.id);
      if (message.ok) waiter.resolve(message.result);
      else waiter.reject(new Error(`${this.label}: ${message.error ?? 'failed'}`));
    });
    child.on('exit', (code, signal) => {
      for (const waiter of this.pending.values()) waiter.reject(new Error(`${this.label} exited (${code ?? signal})`));
      this.pending.clear();
    });
  }

  call<T>(cmd: string, args?: unknown, timeoutMs = 300_000): Promise<T> {
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`${this.label}: '${cmd}' timed out after ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, {
        resolve: (value) => { clearTimeout(timer); resolve(value as T); },
        reject: (error) => { clearTimeout(timer); reject(error); },
      });
      this.child.send({ id, cmd, args } satisfies IpcRequest);
    });
  }
}

/** The child side: answers each request with its handler's result. */
export function serveIpc(handlers: Record<string, (args: never) => unknown>): void {
  process.on('message', (message: IpcRequest) => {
    const handler = handlers[message.cmd];
    const reply = (body: Omit<IpcReply, 'id'>): void => { process.send?.({ id: message.id, ...body }); };
    if (handler === undefined) { reply({ ok: false, error: `unknown command ${message.cmd}` }); return; }
    Promise.resolve()
      .then(() => handler(message.args as never))
      .then((result) => reply({ ok: true, result }), (error: unknown) => reply({ ok: false, error: error instanceof Error ? error.message : String(error) }));
  });
}
