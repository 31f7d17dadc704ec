/**
 * --metrics-listen: a small HTTP server beside the export with /metrics (Prometheus text) and /healthz (JSON,
 * 200 or 503). It only reads what the export recorded; nothing it serves holds event data or secrets.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { ConfigurationError, ExportError } from './errors.js';
import { Health } from './health.js';
import type { ExportMetrics } from './metrics.js';

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
    const server = http.createServer((req, res) => {
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
