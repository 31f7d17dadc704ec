/**
 * Whether a host is this machine. A receiver here (a local rsyslog relay, as in front of Sentinel's Azure Monitor
 * Agent) works on the same cores as the export, which plans its formatting threads around it.
 */
import net from 'node:net';
import os from 'node:os';

/**
 * A loopback name or address, this machine's name, or an address of one of its interfaces. Names are not looked
 * up: planning an export does not wait on DNS.
 */
export function onThisMachine(host: string): boolean {
  const h = host.toLowerCase();
  if (h === 'localhost' || h.endsWith('.localhost') || h === os.hostname().toLowerCase()) return true;
  const type = net.isIPv4(h) ? 'ipv4' : net.isIPv6(h) ? 'ipv6' : null;
  if (type === null) return false;
  const here = new net.BlockList();
  here.addSubnet('127.0.0.0', 8, 'ipv4');
  here.addAddress('::1', 'ipv6');
  here.addSubnet('::ffff:127.0.0.0', 104, 'ipv6');
  for (const a of Object.values(os.networkInterfaces()).flat()) if (a) here.addAddress(a.address.replace(/%.*$/, ''), a.family === 'IPv6' ? 'ipv6' : 'ipv4');
  return here.check(h, type);
}

/** The host of a URL as onThisMachine takes it (an IPv6 address without its brackets), or null when it has none. */
export function urlHost(url: string): string | null {
  try {
    const h = new URL(url).hostname.replace(/^\[(.*)\]$/, '$1');
    return h === '' ? null : h;
  } catch {
    return null;
  }
}
