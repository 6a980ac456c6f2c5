// The API reference page follows the viewer's theme (from <meta name="theme">).
const theme = document.querySelector('meta[name="theme"]');
if (theme) document.documentElement.dataset.theme = theme.content;
