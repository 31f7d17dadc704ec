/**
 * --metrics-listen: a small HTTP server beside the export with /metrics (Prometheus text) and /healthz (JSON,
 * 200 or 503). It only reads what the export recorded; nothing it serves holds event data or secrets.
 */
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { ConfigurationError, ExportError } from '../shared/errors.js';
import { Health } from './health.js';
import { log } from '../shared/log.js';
import type { ExportMetrics } from './metrics.js';

/**
 * Connections served at once; more are closed as they arrive. Scrapers and probes need a few: the cap keeps
 * idle or hostile clients from taking the file descriptors the export needs for the registry and the SIEM.
 */
export const MAX_METRICS_CONNECTIONS = 32;
/** A request must arrive whole within this, and an idle connection is closed after it. */
export const METRICS_REQUEST_TIMEOUT_MS = 5000;

/** Loopback addresses: anything else serves the export's figures to the network. */
export function isLoopback(host: string): boolean {
  if (host === 'localhost') return true;
  if (net.isIPv4(host)) return host.startsWith('127.');
  if (net.isIPv6(host)) return host === '::1' || /^::ffff:127\./i.test(host);
  return false;
}

/** "127.0.0.1:9464", "[::1]:9464" or "0.0.0.0:9464" → host and port. */
export function parseListen(value: string): { host: string; port: number } {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^\s:[\]]+)):(\d{1,5})$/.exec(value.trim());
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) {
    throw new ConfigurationError(`--metrics-listen must be HOST:PORT such as 127.0.0.1:9464 or [::1]:9464, not '${value}'`);
  }
  return { host: (m[1] ?? m[2])!, port };
}

export class MetricsServer {
  private constructor(private readonly server: http.Server, readonly url: string) {}

  static async start(listen: string, metrics: ExportMetrics, stallMs: number): Promise<MetricsServer> {
    const { host, port } = parseListen(listen);
    const health = new Health(metrics, stallMs);
    const answering = new WeakSet<net.Socket>();
    // Node checks the time limits on requests every 30 s by default, which let a client sending a header line
    // every few seconds hold a connection ten times the limit; checked every second, it is closed in time.
    const server = http.createServer({ connectionsCheckingInterval: 1000 }, (req, res) => {
      // One request at a time per connection. Node parses every request a client pipelines, and queues an answer
      // for each until the client reads the one before: a client that sends thousands and reads none would have
      // the export make and hold thousands of answers. Scrapers and probes wait for each answer.
      const socket = req.socket;
      if (answering.has(socket)) {
        socket.destroy();
        return;
      }
      answering.add(socket);
      const done = (): void => void answering.delete(socket);
      res.once('finish', done).once('close', done);
      const path = (req.url ?? '/').split('?')[0];
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.writeHead(405, { allow: 'GET, HEAD' }).end();
        return;
      }
      if (path === '/metrics') {
        metrics.exposition().then(
          (text) => res.writeHead(200, { 'content-type': metrics.registry.contentType }).end(text),
          () => res.writeHead(500, { 'content-type': 'text/plain' }).end('metrics unavailable\n'),
        );
        return;
      }
      if (path === '/healthz') {
        let body: string;
        let code: number;
        try {
          const h = health.check();
          code = h.code;
          body = JSON.stringify(h.report);
        } catch (err) {
          // A registry that cannot be read is not healthy, whatever else holds.
          code = 503;
          body = JSON.stringify({ status: 'error', reason: err instanceof Error ? err.message : String(err) });
        }
        res.writeHead(code, { 'content-type': 'application/json', 'cache-control': 'no-store' }).end(body + '\n');
        return;
      }
      res.writeHead(404, { 'content-type': 'text/plain' }).end('see /metrics and /healthz\n');
    });
    server.maxConnections = MAX_METRICS_CONNECTIONS;
    server.headersTimeout = METRICS_REQUEST_TIMEOUT_MS;
    server.requestTimeout = METRICS_REQUEST_TIMEOUT_MS;
    server.keepAliveTimeout = METRICS_REQUEST_TIMEOUT_MS;
    // A connection that sends nothing is closed (no 'timeout' listener: Node destroys the socket).
    server.timeout = METRICS_REQUEST_TIMEOUT_MS;
    if (!isLoopback(host)) {
      log.warn(
        `--metrics-listen ${listen} is not a loopback address: anyone who can reach it sees the export's progress and registry figures; ` +
          'prefer 127.0.0.1 or [::1] behind a scraper on the same host, or firewall the port',
        { listen },
      );
    }
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err: NodeJS.ErrnoException) =>
        // A port still held by a stopping process is free again soon: a runtime condition, not a usage error.
        reject(new ExportError(`cannot listen on ${listen} (--metrics-listen): ${err.code ?? err.message}; choose another address or port`)),
      );
      server.listen(port, host, () => resolve());
    });
    // Scrapes must never keep a finished export alive.
    server.unref();
    const a = server.address() as AddressInfo;
    const shown = a.family === 'IPv6' ? `[${a.address}]` : a.address;
    return new MetricsServer(server, `http://${shown}:${a.port}`);
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
