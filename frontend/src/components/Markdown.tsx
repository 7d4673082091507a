import DOMPurify from 'dompurify';
import { marked } from 'marked';
import { memo, useMemo } from 'react';

/** Markdown from a task, rendered and sanitised (tasks are trusted less than the page). */
export function renderMarkdown(source: string, inline = false): string {
  const html = inline ? marked.parseInline(source, { async: false }) : marked.parse(source, { async: false, gfm: true, breaks: false });
  return DOMPurify.sanitize(html, { USE_PROFILES: { html: true } });
}

export const Markdown = memo(function Markdown({ source, inline = false, className }: { source: string; inline?: boolean; className?: string }) {
  const html = useMemo(() => renderMarkdown(source, inline), [source, inline]);
  const Tag = inline ? 'span' : 'div';
  return <Tag className={['markdown', className].filter(Boolean).join(' ')} dangerouslySetInnerHTML={{ __html: html }} />;
});
