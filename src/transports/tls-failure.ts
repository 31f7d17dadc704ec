/**
 * A failed connection or TLS handshake in the operator's words. OpenSSL's own text
 * (`808C…:error:0A00010B:SSL routines:ssl3_get_record:wrong version number:../deps/openssl/…:350:`) names
 * its source files, not the problem: only its reason is kept. A certificate problem is told apart, since its
 * fix is --ca-file or --insecure; a port that answers a TLS hello with plain text is told apart too, since
 * no certificate setting can fix that.
 */

export type ConnectProblem = 'certificate' | 'not-tls' | 'tls' | 'other';

const CERTIFICATE_CODES = /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ALTNAME|UNABLE_TO_GET_ISSUER/;
/** OpenSSL's `[hex]:error:[hex]:[library]:[function]:[reason]:[file]:[line]:` */
const OPENSSL_TEXT = /^[0-9A-F]+:error:[0-9A-F]+:[^:]*:[^:]*:([^:]+):/;

export const CERTIFICATE_HINT = '(use --ca-file for a private CA; --insecure turns verification off)';

export function connectProblem(code: string, message: string): { kind: ConnectProblem; reason: string } {
  const first = message.split('\n')[0] ?? '';
  const reason = OPENSSL_TEXT.exec(first)?.[1] ?? first;
  // A plain HTTP or syslog port reads the hello as garbage and answers in text; OpenSSL reads that text's
  // first bytes as a record header of an unknown version.
  if (code === 'ERR_SSL_WRONG_VERSION_NUMBER' || /wrong version number/i.test(reason)) return { kind: 'not-tls', reason };
  if (CERTIFICATE_CODES.test(code) || /certificate/i.test(reason)) return { kind: 'certificate', reason };
  if (/^ERR_(SSL|TLS)_/.test(code)) return { kind: 'tls', reason: `the TLS handshake failed: ${reason}` };
  return { kind: 'other', reason };
}

/** The one line for a port that does not speak TLS; `plain` is the scheme that speaks to it without. */
export function notTlsMessage(where: string, plain: string): string {
  return `${where} does not speak TLS: use ${plain} or the TLS port`;
}
