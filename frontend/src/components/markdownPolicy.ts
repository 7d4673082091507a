import DOMPurify, { type Config, type DOMPurify as Purifier } from 'dompurify';
import { Marked } from 'marked';

/**
 * What markdown from a task may become. Raw HTML in it is shown as text, except the bare
 * tags of basic formatting (`<b>`, `</em>`, `<br>`, no attributes); so the browser never
 * even parses a task's `style` attribute or `<form>` (parsing one under the CSP would
 * report a violation, though nothing of it is kept). The HTML that markdown itself makes
 * then goes through DOMPurify with an explicit allow-list: basic formatting, lists, tables, code, links, and
 * images from the hub itself or `data:`. Tasks are trusted less than the page, so nothing
 * else survives: no raw HTML beyond those elements, no `style` or `class` (either could
 * lay an overlay over the page, even with the CSP), no forms or inputs, no frames or media,
 * no remote images (they would tell another site who reads what, and when), no
 * `javascript:` or other links than http(s) and mailto.
 */
export const ALLOWED_TAGS = [
  'a', 'b', 'blockquote', 'br', 'code', 'del', 'em', 'h1', 'h2', 'h3', 'h4', 'h5', 'h6', 'hr',
  'i', 'img', 'kbd', 'li', 'ol', 'p', 'pre', 's', 'strong', 'sub', 'sup', 'table', 'tbody',
  'td', 'th', 'thead', 'tr', 'ul',
];
export const ALLOWED_ATTR = ['href', 'title', 'alt', 'src', 'start', 'align'];
const LINK_PROTOCOLS = new Set(['http:', 'https:', 'mailto:']);
const DATA_IMAGE = /^data:image\/(?:png|gif|jpeg|webp|avif)[;,]/i;

const BASIC_TAG = /^<\/?(?:b|i|em|strong|s|del|sub|sup|kbd|code|br)\s*\/?>$/i;
const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ESCAPES[c] ?? c);
}

const markdown = new Marked({
  async: false,
  gfm: true,
  breaks: false,
  renderer: {
    html({ text }) {
      return BASIC_TAG.test(text.trim()) ? text : escapeHtml(text);
    },
  },
});

const CONFIG: Config = {
  ALLOWED_TAGS,
  ALLOWED_ATTR,
  ALLOW_DATA_ATTR: false,
  ALLOW_ARIA_ATTR: false,
  ALLOW_UNKNOWN_PROTOCOLS: false,
  KEEP_CONTENT: true, // a refused element's text stays, as text
};

let purifier: Purifier | undefined;

/** A DOMPurify of our own (its hooks touch no other user of the library), made on first
 * use because it needs the page's `window`. */
function getPurifier(): Purifier {
  if (purifier === undefined) {
    purifier = DOMPurify(window);
    purifier.addHook('afterSanitizeAttributes', checkUrls);
  }
  return purifier;
}

function parsed(value: string): URL | null {
  try {
    return new URL(value, window.location.href);
  } catch {
    return null;
  }
}

/** Links go to http(s) or mail, in a new tab that gets no handle on this one; images
 * come from this hub or are inline data, else only their alt text is left. */
function checkUrls(node: Element): void {
  if (node.tagName === 'A') {
    const url = parsed(node.getAttribute('href') ?? '');
    if (url === null || !LINK_PROTOCOLS.has(url.protocol)) {
      node.removeAttribute('href');
    } else {
      node.setAttribute('target', '_blank');
      node.setAttribute('rel', 'noopener noreferrer nofollow');
    }
  } else if (node.tagName === 'IMG') {
    const src = node.getAttribute('src') ?? '';
    const url = DATA_IMAGE.test(src) ? null : parsed(src);
    const local = url !== null && url.origin === window.location.origin && src !== '';
    if (!DATA_IMAGE.test(src) && !local) {
      node.replaceWith(node.ownerDocument.createTextNode(node.getAttribute('alt') ?? ''));
    }
  }
}

/** Markdown from a task, rendered to HTML that keeps only what {@link ALLOWED_TAGS} allows. */
export function renderMarkdown(source: string, inline = false): string {
  const html = inline ? markdown.parseInline(source, { async: false }) : markdown.parse(source, { async: false });
  return getPurifier().sanitize(html, { ...CONFIG, RETURN_TRUSTED_TYPE: false });
}
