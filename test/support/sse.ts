/** One parsed Server-Sent Event (comments are kept as `comment`). */
export interface ParsedSseEvent {
  readonly type: string;
  readonly data: string;
  readonly comment?: string;
}

/** A stream opened with Node's `fetch`, read as it arrives. */
export interface OpenedStream {
  readonly status: number;
  readonly headers: Headers;
  /** Every event and comment so far. */
  readonly events: ParsedSseEvent[];
  /** The JSON body of a refusal (status not 200). */
  readonly body?: unknown;
  /** Resolves with the next event of `type` (one already received counts), or rejects when the stream ends first. */
  next(type: string, timeoutMs?: number): Promise<ParsedSseEvent>;
  /** Resolves when the server has ended the stream. */
  readonly ended: Promise<void>;
  abort(): void;
}

const opened = new Set<OpenedStream>();

/** Opens `url` as an event stream; the refusal body is read when the status is not 200. */
export async function openStream(url: string, headers: Record<string, string> = {}): Promise<OpenedStream> {
  const controller = new AbortController();
  const response = await fetch(url, { headers: { accept: 'text/event-stream', ...headers }, signal: controller.signal });
  const events: ParsedSseEvent[] = [];
  const waiters = new Set<() => void>();
  let done = false;
  const notify = (): void => {
    for (const waiter of [...waiters]) waiter();
  };
  let body: unknown;
  let ended: Promise<void>;
  let reader: ReadableStreamDefaultReader<Uint8Array> | undefined;
  if (response.status !== 200 || !(response.headers.get('content-type') ?? '').startsWith('text/event-stream')) {
    const text = await response.text();
    try {
      body = JSON.parse(text);
    } catch {
      body = text;
    }
    done = true;
    ended = Promise.resolve();
  } else {
    ended = (async () => {
      reader = (response.body as ReadableStream<Uint8Array>).getReader();
      const decoder = new TextDecoder();
      let buffer = '';
      try {
        for (;;) {
          const { value, done: finished } = await reader.read();
          if (finished) break;
          buffer += decoder.decode(value, { stream: true });
          let at: number;
          while ((at = buffer.indexOf('\n\n')) !== -1) {
            const block = buffer.slice(0, at);
            buffer = buffer.slice(at + 2);
            const event = parseBlock(block);
            if (event !== null) events.push(event);
          }
          notify();
        }
      } catch {
        // aborted by the test, or the connection was dropped
      } finally {
        done = true;
        notify();
      }
    })();
  }
  const stream: OpenedStream = {
    status: response.status,
    headers: response.headers,
    events,
    ...(body !== undefined ? { body } : {}),
    ended,
    abort: () => {
      // Cancelling the reader settles a pending read even when the body had already ended.
      reader?.cancel().catch(() => undefined);
      controller.abort();
    },
    next: (type, timeoutMs = 10_000) => new Promise<ParsedSseEvent>((resolve, reject) => {
      let index = 0;
      const check = (): void => {
        for (; index < events.length; index += 1) {
          const event = events[index] as ParsedSseEvent;
          if (event.type === type) {
            cleanup();
            resolve(event);
            return;
          }
        }
        if (done) {
          cleanup();
          reject(new Error(`the stream ended before a ${JSON.stringify(type)} event`));
        }
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`no ${JSON.stringify(type)} event within ${timeoutMs} ms`));
      }, timeoutMs);
      const cleanup = (): void => {
        clearTimeout(timer);
        waiters.delete(check);
      };
      waiters.add(check);
      check();
    }),
  };
  opened.add(stream);
  return stream;
}

/** Aborts every stream a test opened (afterEach). */
export async function closeAllStreams(): Promise<void> {
  const all = [...opened];
  opened.clear();
  for (const stream of all) stream.abort();
  await Promise.all(all.map((stream) => stream.ended));
}

function parseBlock(block: string): ParsedSseEvent | null {
  let type = 'message';
  const data: string[] = [];
  let comment: string | undefined;
  for (const line of block.split('\n')) {
    if (line.length === 0) continue;
    if (line.startsWith(':')) {
      comment = line.slice(1).trimStart();
      continue;
    }
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    const value = colon === -1 ? '' : line.slice(colon + 1).replace(/^ /, '');
    if (field === 'event') type = value;
    else if (field === 'data') data.push(value);
  }
  if (data.length === 0 && comment !== undefined) return { type: 'comment', data: '', comment };
  if (data.length === 0) return null;
  return { type, data: data.join('\n') };
}
