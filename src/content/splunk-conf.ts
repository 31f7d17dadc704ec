/**
 * Splunk `.conf` files: written from stanzas, and read back strictly. Splunk itself shrugs at a malformed line
 * (it is skipped with a warning in splunkd.log), which turns a typo in an app into a field that silently never
 * appears; the reader here refuses such a line instead, so a test catches it before a user does.
 */

export interface ConfStanza {
  name: string;
  /** Settings in file order; the reader refuses a key given twice in one stanza. */
  settings: [string, string][];
}

export interface ConfFile {
  stanzas: ConfStanza[];
  /** A stanza by name; throws when the file does not have it. */
  stanza(name: string): Map<string, string>;
}

/** One setting line. A value must not end in a backslash, which Splunk would read as a line continuation. */
function settingLine(key: string, value: string): string {
  if (/[\r\n]/.test(value)) throw new Error(`conf value of ${key} spans lines: ${JSON.stringify(value)}`);
  if (value.endsWith('\\')) throw new Error(`conf value of ${key} ends in a backslash`);
  return value === '' ? `${key} =` : `${key} = ${value}`;
}

/** `# …` comment lines, wrapped by the caller. */
export function confComment(lines: string[]): string {
  return lines.map((l) => (l === '' ? '#' : `# ${l}`)).join('\n') + '\n';
}

export function writeConf(header: string[], stanzas: ConfStanza[]): string {
  const parts = [confComment(header)];
  for (const s of stanzas) {
    parts.push(`\n[${s.name}]\n` + s.settings.map(([k, v]) => settingLine(k, v) + '\n').join(''));
  }
  return parts.join('');
}

const KEY = /^[A-Za-z0-9_][A-Za-z0-9_.:<>\-]*$/;

/**
 * Read a `.conf` file: `[stanza]` headers, `key = value` settings (settings before the first header belong to
 * the `default` stanza), `#` comments, blank lines, and values continued on the next line by a trailing
 * backslash. Anything else is an error naming the line.
 */
export function parseConf(text: string, file = 'conf'): ConfFile {
  const stanzas: ConfStanza[] = [];
  const seen = new Map<string, ConfStanza>();
  let current: ConfStanza | null = null;
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const lineNo = i + 1;
    let line = (lines[i] ?? '').replace(/\r$/, '');
    const trimmed = line.trim();
    if (trimmed === '' || trimmed.startsWith('#')) continue;
    if (trimmed.startsWith('[')) {
      // `[]` is the app-wide stanza of a .meta file.
      if (!trimmed.endsWith(']') || trimmed.includes('[', 1)) throw new Error(`${file}:${lineNo}: malformed stanza header ${JSON.stringify(trimmed)}`);
      const name = trimmed.slice(1, -1);
      if (seen.has(name)) throw new Error(`${file}:${lineNo}: stanza [${name}] appears twice`);
      current = { name, settings: [] };
      seen.set(name, current);
      stanzas.push(current);
      continue;
    }
    while (line.endsWith('\\')) {
      if (i + 1 >= lines.length) throw new Error(`${file}:${lineNo}: line continuation at the end of the file`);
      line = line.slice(0, -1) + '\n' + (lines[++i] ?? '').replace(/\r$/, '');
    }
    const eq = line.indexOf('=');
    if (eq < 0) throw new Error(`${file}:${lineNo}: neither a stanza, a comment nor a key = value setting: ${JSON.stringify(trimmed)}`);
    const key = line.slice(0, eq).trim();
    if (!KEY.test(key)) throw new Error(`${file}:${lineNo}: ${JSON.stringify(key)} is not a setting name`);
    const value = line.slice(eq + 1).trim();
    if (!current) {
      current = { name: 'default', settings: [] };
      seen.set('default', current);
      stanzas.push(current);
    }
    if (current.settings.some(([k]) => k === key)) throw new Error(`${file}:${lineNo}: ${key} is set twice in [${current.name}]`);
    current.settings.push([key, value]);
  }
  return {
    stanzas,
    stanza(name: string): Map<string, string> {
      const s = seen.get(name);
      if (!s) throw new Error(`${file}: no stanza [${name}]`);
      return new Map(s.settings);
    },
  };
}
