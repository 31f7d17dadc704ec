/**
 * `oversight completion bash|zsh`: a completion script made from the command tree itself, so every command and
 * flag a format or transport adds completes without editing this file. zsh runs the bash script through its
 * bashcompinit.
 */
import type { Command } from 'commander';
import { ConfigurationError } from '../shared/errors.js';

export const SHELLS = ['bash', 'zsh'] as const;

/** Every command path (`siem export`) with its subcommands and flags. */
function walk(cmd: Command, path: string[], out: { path: string[]; subs: string[]; flags: string[] }[]): void {
  const subs = cmd.commands.map((c) => c.name());
  const flags = cmd.options.flatMap((o) => [o.long, o.short].filter((f): f is string => !!f));
  out.push({ path, subs, flags: [...flags, '--help'] });
  for (const c of cmd.commands) walk(c, [...path, c.name()], out);
}

export function completionScript(shell: string, program: Command): string {
  if (!(SHELLS as readonly string[]).includes(shell)) throw new ConfigurationError(`completion for ${shell} is not available: choose ${SHELLS.join(' or ')}`);
  const levels: { path: string[]; subs: string[]; flags: string[] }[] = [];
  walk(program, [], levels);
  const key = (path: string[]): string => path.join('_') || 'top';
  const cases = levels
    .map((l) => `    ${key(l.path)}) subs="${l.subs.join(' ')}"; flags="${l.flags.join(' ')}" ;;`)
    .join('\n');
  const bash = `# oversight completion for bash (eval "$(oversight completion bash)")
_oversight() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" level=top subs flags i w
  for ((i = 1; i < COMP_CWORD; i++)); do
    w="\${COMP_WORDS[i]}"
    _oversight_level "$level"
    case " $subs " in *" $w "*) if [ "$level" = top ]; then level="$w"; else level="\${level}_$w"; fi ;; esac
  done
  _oversight_level "$level"
  if [[ "$cur" == -* ]]; then COMPREPLY=($(compgen -W "$flags" -- "$cur")); else COMPREPLY=($(compgen -W "$subs" -- "$cur")); fi
}
_oversight_level() {
  case "$1" in
${cases}
    *) subs=""; flags="" ;;
  esac
}
complete -o default -F _oversight oversight
`;
  return shell === 'zsh' ? `# oversight completion for zsh (eval "$(oversight completion zsh)")\nautoload -U +X bashcompinit && bashcompinit\n${bash}` : bash;
}
