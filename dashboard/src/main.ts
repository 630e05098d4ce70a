/** Entry of the dashboard: Vue, Element Plus, vue-i18n and the router (docs/architecture.md §8, the Vue dashboard). */
import ElementPlus from 'element-plus';
import 'element-plus/dist/index.css';
import { createApp } from 'vue';
import App from './App.vue';
import { i18n } from './i18n/index.ts';
import { router } from './router.ts';
import './style.css';

document.documentElement.lang = i18n.global.locale.value;
createApp(App).use(i18n).use(router).use(ElementPlus).mount('#app');
