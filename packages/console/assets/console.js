// Progressive enhancement only: every form works without this file.

document.addEventListener('click', async (event) => {
  const button = event.target instanceof Element ? event.target.closest('button.copy[data-copy]') : null;
  if (!button) return;
  const field = document.getElementById(button.getAttribute('data-copy'));
  if (!field) return;
  try {
    await navigator.clipboard.writeText(field.value);
    button.textContent = 'Copied';
  } catch {
    // Clipboard refused (insecure origin, permissions): select the text for a manual copy.
    field.select();
    button.textContent = 'Press Ctrl+C to copy';
  }
});

document.addEventListener('submit', (event) => {
  const form = event.target;
  if (!(form instanceof HTMLFormElement)) return;
  const message = form.getAttribute('data-confirm');
  if (message && !window.confirm(message)) event.preventDefault();
});

// Typed confirmation: the delete button stays disabled until the name is typed exactly.
for (const form of document.querySelectorAll('form.typed-confirm')) {
  const input = form.querySelector('input[data-expected]');
  const button = form.querySelector('button[type="submit"]');
  if (!input || !button) continue;
  const sync = () => {
    button.disabled = input.value.trim() !== input.getAttribute('data-expected');
  };
  input.addEventListener('input', sync);
  sync();
}
