// Light or dark: the system preference, unless the user chose one (remembered in localStorage).
// The resolved theme is always written to <html data-theme>, which the stylesheet keys on.

import { t } from "./i18n.js";

const STORAGE_KEY = "botport.theme";
const systemDark = window.matchMedia("(prefers-color-scheme: dark)");

function chosen() {
  const saved = localStorage.getItem(STORAGE_KEY);
  return saved === "light" || saved === "dark" ? saved : null;
}

export function currentTheme() {
  return chosen() ?? (systemDark.matches ? "dark" : "light");
}

function apply() {
  const theme = currentTheme();
  document.documentElement.dataset.theme = theme;
  const label = document.getElementById("theme-label");
  // The button names the theme it switches to.
  if (label) label.textContent = theme === "dark" ? t("themeLight") : t("themeDark");
}

export function toggleTheme() {
  localStorage.setItem(STORAGE_KEY, currentTheme() === "dark" ? "light" : "dark");
  apply();
}

export function initTheme() {
  apply();
  systemDark.addEventListener("change", apply);
  document.addEventListener("botport:language", apply);
}
