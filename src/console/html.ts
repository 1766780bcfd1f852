// The console's only way to produce HTML: the `html` tagged template, which escapes every
// interpolated value unless it is a SafeHtml fragment made by `html` itself (or `raw` for
// trusted constants). Values from mail (subjects, names, diagnostics) can therefore never become markup.

/** A fragment of markup that is already safe to send. */
export class SafeHtml {
  constructor(readonly value: string) {}
  toString(): string {
    return this.value;
  }
}

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;', '`': '&#96;' };

/** Text → HTML text or attribute value (always used inside quoted attributes). */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"'`]/g, (c) => ESCAPES[c]!);
}

type Value = SafeHtml | string | number | boolean | null | undefined | readonly Value[];

function render(v: Value): string {
  if (v === null || v === undefined || v === false) return '';
  if (v instanceof SafeHtml) return v.value;
  if (Array.isArray(v)) return (v as readonly Value[]).map(render).join('');
  return escapeHtml(String(v));
}

/** `html\`<p>${subject}</p>\`` → SafeHtml with `subject` escaped. Arrays are joined; null/undefined/false render nothing. */
export function html(strings: TemplateStringsArray, ...values: Value[]): SafeHtml {
  let out = strings[0]!;
  for (let i = 0; i < values.length; i++) out += render(values[i]!) + strings[i + 1]!;
  return new SafeHtml(out);
}

/** Marks a trusted constant (never a value from a request or from mail) as markup. */
export function raw(trusted: string): SafeHtml {
  return new SafeHtml(trusted);
}
