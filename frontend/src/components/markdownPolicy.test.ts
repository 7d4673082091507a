// @vitest-environment jsdom
import { describe, expect, it } from 'vitest';
import { renderMarkdown } from './markdownPolicy';

/** The rendered markdown as a DOM fragment, to ask what is in it. */
function render(source: string, inline = false): HTMLElement {
  const holder = document.createElement('div');
  holder.innerHTML = renderMarkdown(source, inline);
  return holder;
}

/** Every attribute value left in the fragment: where a URL or a style would live. */
function attributeValues(out: HTMLElement): string[] {
  return [...out.querySelectorAll('*')].flatMap((el) => [...el.attributes].map((a) => `${a.name}=${a.value}`));
}

describe('markdown from a task', () => {
  it('keeps basic formatting, lists, tables, code and links', () => {
    const out = render('# Title\n\n**bold** _it_ `code` ~~gone~~\n\n- a\n- b\n\n| x | y |\n|---|:-:|\n| 1 | 2 |\n\n[docs](https://example.com/docs)');
    expect(out.querySelector('h1')?.textContent).toBe('Title');
    expect(out.querySelector('strong')?.textContent).toBe('bold');
    expect(out.querySelector('em')?.textContent).toBe('it');
    expect(out.querySelector('code')?.textContent).toBe('code');
    expect(out.querySelectorAll('li')).toHaveLength(2);
    expect(out.querySelector('td')?.textContent).toBe('1');
    const link = out.querySelector('a');
    expect(link?.getAttribute('href')).toBe('https://example.com/docs');
    expect(link?.getAttribute('rel')).toBe('noopener noreferrer nofollow');
    expect(link?.getAttribute('target')).toBe('_blank');
  });

  it('drops <style> and its rules', () => {
    const out = render('hello\n\n<style>body { display: none }</style>');
    expect(out.querySelector('style')).toBeNull();
    expect(attributeValues(out).join(' ')).not.toContain('display');
    expect(out.textContent).toContain('hello');
  });

  it('drops <form> and every control, keeping only their text', () => {
    const out = render('<form action="https://evil.example/steal" method="post"><label>Password <input type="password" name="p"></label><button>Log in</button><select><option>x</option></select><textarea>t</textarea></form>');
    for (const tag of ['form', 'input', 'button', 'select', 'textarea', 'label', 'option']) {
      expect(out.querySelector(tag), tag).toBeNull();
    }
    expect(attributeValues(out).join(' ')).not.toContain('evil.example');
    expect(out.textContent).toContain('Password');
  });

  it('drops remote images, keeping their alt text; keeps the hub\'s own and data: images', () => {
    const out = render('![tracker](http://evil.example/pixel.gif) ![chart](https://cdn.example/c.png) ![](//evil.example/x.png) ![local](/assets/logo.png) ![dot](data:image/png;base64,iVBORw0KGgo=)');
    const sources = [...out.querySelectorAll('img')].map((img) => img.getAttribute('src'));
    expect(sources).toEqual(['/assets/logo.png', 'data:image/png;base64,iVBORw0KGgo=']);
    expect(attributeValues(out).join(' ')).not.toMatch(/evil\.example|cdn\.example/);
    expect(out.textContent).toContain('tracker');
    expect(out.textContent).toContain('chart');
  });

  it('drops data: images that are not raster images', () => {
    const out = render('![x](data:text/html;base64,PHNjcmlwdD4=) <img src="data:image/svg+xml,<svg onload=alert(1)>">');
    expect(out.querySelectorAll('img')).toHaveLength(0);
  });

  it('drops style, class and id, so no full-page overlay can be drawn', () => {
    const out = render('<div style="position:fixed;inset:0;z-index:9999;background:white">Session expired, <a href="https://evil.example">log in again</a></div><p class="modal-backdrop" id="root">x</p><span style="position:fixed">y</span>');
    expect(out.querySelectorAll('[style]')).toHaveLength(0);
    expect(out.querySelectorAll('[class]')).toHaveLength(0);
    expect(out.querySelectorAll('[id]')).toHaveLength(0);
    expect(out.querySelector('div')).toBeNull();
    expect(attributeValues(out).join(' ')).not.toContain('position');
  });

  it('drops <script>, event handlers, frames and embeds', () => {
    const out = render('<script>alert(1)</script><img src="/a.png" onerror="alert(2)"><iframe src="https://evil.example"></iframe><object data="x"></object><embed src="y"><svg><script>alert(3)</script></svg><math></math><video src="/v.mp4"></video>');
    expect(out.querySelector('script, iframe, object, embed, svg, math, video')).toBeNull();
    expect(attributeValues(out).join(' ')).not.toMatch(/alert|onerror/);
  });

  it('keeps the text of javascript: links but not the link', () => {
    const sources = [
      '[click](javascript:alert(1))',
      '<a href="javascript:alert(1)">click</a>',
      '<a href="  JaVaScRiPt:alert(1)">click</a>',
      '<a href="jav&#x09;ascript:alert(1)">click</a>',
      '<a href="vbscript:msgbox(1)">click</a>',
      '<a href="data:text/html,<script>alert(1)</script>">click</a>',
    ];
    for (const source of sources) {
      const out = render(source);
      expect(out.textContent, source).toContain('click');
      const href = out.querySelector('a')?.getAttribute('href') ?? null;
      expect(href, source).toBeNull();
      expect(attributeValues(out).join(' '), source).not.toMatch(/javascript|vbscript|data:/i);
    }
  });

  it('shows raw HTML as text, except bare basic formatting tags', () => {
    const out = render('<b>bold</b> <em>em</em> line<br>two <b class="x">kept as text</b> <span>s</span>');
    expect(out.querySelector('b')?.textContent).toBe('bold');
    expect(out.querySelector('em')?.textContent).toBe('em');
    expect(out.querySelector('br')).not.toBeNull();
    expect(out.querySelector('span')).toBeNull();
    expect(out.textContent).toContain('<b class="x">kept as text');
    expect(out.textContent).toContain('<span>s</span>');
  });

  it('applies the same rules inline', () => {
    const out = render('**ok** <img src=https://evil.example/p.gif> <b style="position:fixed">x</b>', true);
    expect(out.querySelector('strong')?.textContent).toBe('ok');
    expect(out.querySelector('img')).toBeNull();
    expect(out.querySelectorAll('[style]')).toHaveLength(0);
  });
});
