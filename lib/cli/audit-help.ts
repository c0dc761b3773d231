/** `--help` text of the `audit` command. */
export const AUDIT_HELP = `Usage: nestjs-realtime-security audit --url <url> [options]

Probes a running Socket.IO server from outside, as an attacker would, and prints one line per
check: PASS, FAIL or N/A, the target and the evidence (never a token, cookie or engine sid).
Exit code: 0 no FAIL; 1 at least one FAIL; 2 bad usage, unreachable or refused target, or the
budget ran out before every check ran.

Target
  --url <url>               http(s)://host:port of the server (required)
  --path <path>             Socket.IO path                                  [/socket.io/]
  --namespace <nsp>         a namespace the server declares; repeat for more  [/]
  --allow-host <host>       permit a host that is not loopback (exact name); repeat for more.
                            Without it only localhost, 127.0.0.0/8 and ::1 are probed.
  --sse-url <path>          a Server-Sent Events route on --url (e.g. /chat/notifications):
                            adds the sse.* checks

Credentials of a test user (used as the control: what must work does work)
  --token <jwt>             a valid token, sent as auth.token. The environment variable
                            REALTIME_AUDIT_TOKEN is read when --token is absent (keeps the
                            token out of shell history). Without a token, checks that need
                            one are N/A.
  --cookie-name <name>      the session cookie the server accepts; enables the Origin matrix
                            (foreign, null, suffix and prefix look-alikes) for cookie auth
  --allowed-origin <origin> an Origin the server allows (control of the matrix)  [origin of --url]

Expectations and bounds
  --max-connections <n>     the per-user ceiling the server should enforce, 1..10; the audit
                            opens n+1 connections. Unset: probes up to 11 (the seed check
                            wants a ceiling of at most 10)
  --oversize-bytes <n>      size of the oversize message, 1024..8388608       [131072]
  --flood-count <n>         messages in the flood, 10..2000                   [300]
  --flood-event <name>      event the flood sends. The default is one no server handles: it
                            shows whether unhandled events are limited too; give one the
                            server handles to test its handler limit       [audit:flood]
  --flood-payload <json>    payload of each flood message                     [{}]
  --timeout <seconds>       global time budget, 5..600                        [60]
  --step-timeout <ms>       longest wait for one answer, 200..30000           [3000]
  --settle <ms>             quiet window taken as "nothing happened", 50..5000 [400]

Output
  --json                    print a machine-readable report instead of lines
  -h, --help                this text

Checks (seed check ids in brackets)
  control.token            the token connects on every namespace and transport
  auth.no-credentials      every namespace, '/', an undeclared one, both transports
                           [community-realtime.connection-management.websocket-auth-required]
  auth.empty-token         auth: { token: '' }
  auth.query-token         the token in the query string
  auth.forged.*            alg none, bad signature, tampered claims, truncated, expired
  origin.*                 cookie auth from the allowed, a foreign, the null, a suffix and a
                           prefix look-alike Origin
  limits.connection-ceiling, limits.slot-release
                           [community-realtime.connection-management.per-user-connection-limits]
  limits.oversize          one message of --oversize-bytes, both transports
  limits.flood             --flood-count messages from one socket
  protocol.reserved-events reserved and non-string event names
  presence.client-forged   client events that try to set presence
                           [community-realtime.presence.server-computed-presence]
  sse.unauthenticated      (--sse-url) a stream without credential is refused before any byte
  sse.query-token          the token in the stream's query string is refused
  sse.cookie-origin        the session cookie from a foreign Origin, and without one, is refused
  sse.cache-headers        an accepted stream says Cache-Control: no-store
  sse.connection-ceiling, sse.slot-release
                           streams of one user stop at the ceiling; closed ones give it back
  liveness.after-audit     the server still serves the token after everything above
`;
