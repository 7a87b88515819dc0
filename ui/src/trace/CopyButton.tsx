// A button that copies a text (a trace or span ID) to the clipboard and says so.

import { useEffect, useState } from 'preact/hooks';

export function CopyButton(props: { text: string; label: string }) {
  const [copied, setCopied] = useState(false);
  useEffect(() => {
    if (!copied) return;
    const timer = setTimeout(() => setCopied(false), 1500);
    return () => clearTimeout(timer);
  }, [copied]);
  return (
    <button
      type="button"
      class="copy-button"
      title={props.label}
      aria-label={props.label}
      onClick={() => copyText(props.text).then(setCopied)}
    >
      {copied ? 'Copied' : 'Copy'}
    </button>
  );
}

/** The async clipboard API needs a secure context; plain http off localhost falls back. */
async function copyText(text: string): Promise<boolean> {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    const area = document.createElement('textarea');
    area.value = text;
    document.body.appendChild(area);
    area.select();
    const ok = document.execCommand('copy');
    area.remove();
    return ok;
  }
}
