/**
 * What can be known about a destination before an event is sent: the name resolves, the port answers, and the
 * transport's own check (credentials, the SIEM side's objects, a RELP session). `siem check` prints every line;
 * a one-shot export runs the same checks first, so a wrong or dead destination fails in seconds, not after
 * minutes of retries.
 */
import dns from 'node:dns/promises';
import net from 'node:net';
import tls from 'node:tls';
import { errorMessage } from '../shared/errors.js';
import { MAX_DURATION_MS } from '../shared/options.js';
import type { HttpOptions } from '../transports/http/client.js';
import { tlsOptions } from '../transports/syslog/syslog-socket.js';
import { CERTIFICATE_HINT, connectProblem, notTlsMessage } from '../transports/tls-failure.js';
import type { CheckLine, Transport } from '../transports/transport.js';

/** The host and port a URL output reaches, or null for local outputs. */
export function endpointOf(output: string): { host: string; port: number } | null {
  const m = /^([a-z][a-z0-9+.-]*):\/\//i.exec(output);
  if (!m) return null;
  const scheme = m[1]!.toLowerCase();
  const u = new URL(output.replace(/^[a-z][a-z0-9+.-]*:/i, 'http:'));
  const defaults: Record<string, number> = {
    http: 80, https: 443, 'otlp+http': 4318, 'otlp+https': 4318, 'syslog+tcp': 514, 'syslog+udp': 514, 'syslog+tls': 6514, relp: 2514,
  };
  const port = u.port ? Number(u.port) : defaults[scheme] ?? 443;
  return { host: u.hostname.replace(/^\[|\]$/g, ''), port };
}

function within<T>(ms: number, what: string, p: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<T>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms / 1000}s (--timeout)`)), ms))),
  ]);
}

/** Schemes whose connection starts with a TLS handshake, and the scheme that speaks to the same port without. */
const TLS_SCHEMES = new Map([['https', 'http://'], ['otlp+https', 'otlp+http://'], ['syslog+tls', 'syslog+tcp://']]);

/**
 * The port answers; given TLS settings, the handshake succeeds with them too: the certificate is verified as the
 * export verifies it.
 */
async function reachable(host: string, port: number, timeoutMs: number, tlsWith: tls.ConnectionOptions | null): Promise<void> {
  await within(timeoutMs, `connect to ${host}:${port}`, new Promise<void>((resolve, reject) => {
    const s = tlsWith ? tls.connect({ host, port, ...tlsWith }) : net.connect({ host, port });
    s.once(tlsWith ? 'secureConnect' : 'connect', () => {
      s.destroy();
      resolve();
    });
    s.once('error', (err) => {
      s.destroy();
      reject(err);
    });
  }));
}

/**
 * Every check, in order; stops at the first that fails, since the later ones depend on it. `ask` false keeps to
 * the name and the connection: nothing is asked of the SIEM itself, so nothing it answers is used up.
 */
export async function preflight(output: string, transport: Transport, http: HttpOptions, udp = false, ask = true): Promise<CheckLine[]> {
  const out: CheckLine[] = [];
  const timeoutMs = http.timeoutMs;
  const ep = endpointOf(output);
  if (ep) {
    try {
      const a = net.isIP(ep.host) ? { address: ep.host } : await within(timeoutMs, `resolve ${ep.host}`, dns.lookup(ep.host));
      out.push({ what: 'name', ok: true, detail: `${ep.host} is ${a.address}` });
    } catch (err) {
      out.push({ what: 'name', ok: false, detail: `${ep.host} does not resolve: ${errorMessage(err)}` });
      return out;
    }
    if (!udp) {
      // Only `siem check` makes the handshake: an export's first request shows a certificate problem anyway,
      // and its start is not held up by a second handshake.
      const plain = TLS_SCHEMES.get(output.slice(0, output.indexOf(':')).toLowerCase());
      const tlsWith = ask && plain ? tlsOptions(ep.host, http) : null;
      try {
        await reachable(ep.host, ep.port, timeoutMs, tlsWith);
        const how = !tlsWith ? 'connections'
          : http.insecure ? 'TLS connections (certificate not verified: --insecure)' : 'TLS connections with a trusted certificate';
        out.push({ what: 'connection', ok: true, detail: `${ep.host}:${ep.port} accepts ${how}` });
      } catch (err) {
        const where = `${ep.host}:${ep.port}`;
        const { kind, reason } = connectProblem((err as { code?: string }).code ?? '', errorMessage(err));
        const detail = kind === 'not-tls' && plain ? notTlsMessage(where, plain)
          : `${where}: ${reason}${kind === 'certificate' ? ` ${CERTIFICATE_HINT}` : ''}`;
        out.push({ what: 'connection', ok: false, detail });
        return out;
      }
    }
  }
  if (ask && transport.check) {
    try {
      // Capped: twice a --timeout near the longest one taken would overflow the timer and fire at once.
      out.push(...(await within(Math.min(timeoutMs * 2, MAX_DURATION_MS), transport.name, transport.check())));
    } catch (err) {
      out.push({ what: transport.name, ok: false, detail: errorMessage(err) });
    }
  }
  return out;
}
