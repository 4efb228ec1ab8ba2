// Renderer entry: apply the remembered theme before the first paint, then mount the app.
import { mount } from 'svelte';
import App from './App.svelte';
import { applyTheme, rememberedTheme } from './lib/settings.svelte.ts';
import './app.css';

applyTheme(rememberedTheme());
const target = document.getElementById('app');
if (!target) throw new Error('index.html has no #app element to mount the renderer into');
mount(App, { target });
