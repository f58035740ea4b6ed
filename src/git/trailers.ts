/**
 * The trailer every commit agentgit makes carries: which instance made it
 * (`agentgit log` shows it, `init` finds agentgit's own history by it).
 * Written here only, so every message has the same form.
 */
export const INSTANCE_TRAILER = 'Agentgit-Instance';

/** `text` (subject, optional body; trailing newlines dropped), a blank line, and the trailer naming `instance`. */
export function withInstanceTrailer(text: string, instance: string): string {
  return `${text.replace(/\n+$/, '')}\n\n${INSTANCE_TRAILER}: ${instance}\n`;
}
