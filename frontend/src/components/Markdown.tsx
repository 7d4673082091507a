import { memo, useMemo } from 'react';
import { renderMarkdown } from './markdownPolicy';

/** Markdown from a task, rendered through the strict allow-list of markdownPolicy.ts. */
export const Markdown = memo(function Markdown({ source, inline = false, className }: { source: string; inline?: boolean; className?: string }) {
  const html = useMemo(() => renderMarkdown(source, inline), [source, inline]);
  const Tag = inline ? 'span' : 'div';
  return <Tag className={['markdown', className].filter(Boolean).join(' ')} dangerouslySetInnerHTML={{ __html: html }} />;
});
