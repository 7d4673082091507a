import react from '@vitejs/plugin-react';
import { defineConfig } from 'vitest/config';

// The hub serves dist/: hashed files under /assets/ are cached forever, index.html never.
export default defineConfig({
  plugins: [react()],
  build: { outDir: 'dist', emptyOutDir: true, assetsDir: 'assets', sourcemap: false },
  server: {
    // `npm run dev` next to `tether serve --port 8000`.
    proxy: {
      '/api': 'http://127.0.0.1:8000',
      '/ws': { target: 'ws://127.0.0.1:8000', ws: true },
    },
  },
  test: { environment: 'node', include: ['src/**/*.test.ts', 'scripts/**/*.test.ts'] },
});
