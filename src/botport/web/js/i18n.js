// Interface strings in English and Chinese. The language comes from localStorage, else the browser.

const STRINGS = {
  en: {
    skipToComposer: "Skip to the message box",
    newChat: "New chat",
    conversations: "Conversations",
    noConversations: "No conversations yet.",
    loadMore: "Load more",
    untitled: "New conversation",
    closeSidebar: "Close the sidebar",
    toggleSidebar: "Show or hide conversations",
    switchLanguage: "Switch language",
    switchTheme: "Switch theme",
    themeDark: "Dark",
    themeLight: "Light",
    chooseBot: "Bot",
    demoTitle: "Demo mode",
    demoText: "No Coze token is set: the built-in emulator answers.",
    messageLabel: "Message",
    placeholder: "Message the bot…",
    send: "Send",
    stop: "Stop answering",
    hint: "Enter to send, Shift+Enter for a new line",
    you: "You",
    renameTitle: "Rename conversation",
    titleLabel: "Title",
    rename: "Rename",
    cancel: "Cancel",
    save: "Save",
    deleteTitle: "Delete conversation?",
    deleteText: "“{title}” and its messages will be deleted for good.",
    passcodeTitle: "This chat is private",
    passcodeText: "Enter the passcode you were given.",
    passcodeLabel: "Passcode",
    passcodeEnter: "Enter",
    passcodeWrong: "That is not the passcode.",
    chatClosed: "This server's web chat is closed: it answers programs with an API key only.",
    renameFailed: "Could not rename the conversation: {message}",
    deleteFailed: "Could not delete the conversation: {message}",
    delete: "Delete",
    thinking: "Thinking",
    thoughts: "Thoughts",
    copy: "Copy answer",
    copied: "Copied",
    retry: "Retry",
    stopped: "Stopped",
    answering: "{bot} is answering…",
    answered: "{bot} answered: {text}",
    youSaid: "You said:",
    shortcuts: "Keyboard shortcuts",
    shortcutNewChat: "New chat",
    shortcutFocus: "Go to the message box",
    shortcutStop: "Stop the answer",
    shortcutSend: "Send the message",
    shortcutNewLine: "New line in the message",
    shortcutHelp: "Show these shortcuts",
    close: "Close",
    botSaid: "{bot} said:",
    failed: "The answer failed",
    logid: "Log id",
    tokens: "{total} tokens",
    tokensDetail: "{input} in, {output} out",
    suggestions: "Suggested follow-ups",
    toolCall: "The bot asked to call a tool ({names}); the web chat cannot run tools.",
    networkError: "The connection was lost.",
    reconnecting: "Reconnecting…",
    jumpToLatest: "Jump to latest",
    notFound: "This conversation does not exist or is not yours.",
    rateAnswer: "Rate this answer",
    like: "Good answer",
    unlike: "Bad answer",
    feedbackFailed: "Could not save your rating: {message}",
  },
  zh: {
    skipToComposer: "跳到输入框",
    newChat: "新对话",
    conversations: "对话",
    noConversations: "还没有对话。",
    loadMore: "加载更多",
    untitled: "新对话",
    closeSidebar: "关闭侧边栏",
    toggleSidebar: "显示或隐藏对话列表",
    switchLanguage: "切换语言",
    switchTheme: "切换主题",
    themeDark: "深色",
    themeLight: "浅色",
    chooseBot: "机器人",
    demoTitle: "演示模式",
    demoText: "未设置 Coze 令牌：由内置模拟器回答。",
    messageLabel: "消息",
    placeholder: "给机器人发消息…",
    send: "发送",
    stop: "停止回答",
    hint: "Enter 发送，Shift+Enter 换行",
    you: "你",
    renameTitle: "重命名对话",
    titleLabel: "标题",
    rename: "重命名",
    cancel: "取消",
    save: "保存",
    deleteTitle: "删除对话？",
    deleteText: "“{title}”及其所有消息将被永久删除。",
    passcodeTitle: "这是私密聊天",
    passcodeText: "请输入你收到的访问口令。",
    passcodeLabel: "访问口令",
    passcodeEnter: "进入",
    passcodeWrong: "口令不正确。",
    chatClosed: "本服务器的网页聊天已关闭：只接受持 API 密钥的程序调用。",
    renameFailed: "无法重命名对话：{message}",
    deleteFailed: "无法删除对话：{message}",
    delete: "删除",
    thinking: "思考中",
    thoughts: "思考过程",
    copy: "复制回答",
    copied: "已复制",
    retry: "重试",
    stopped: "已停止",
    answering: "{bot} 正在回答…",
    answered: "{bot} 回答：{text}",
    youSaid: "你说：",
    shortcuts: "键盘快捷键",
    shortcutNewChat: "新对话",
    shortcutFocus: "跳到输入框",
    shortcutStop: "停止回答",
    shortcutSend: "发送消息",
    shortcutNewLine: "在消息中换行",
    shortcutHelp: "显示这些快捷键",
    close: "关闭",
    botSaid: "{bot} 说：",
    failed: "回答失败",
    logid: "日志 ID",
    tokens: "{total} 个 token",
    tokensDetail: "输入 {input}，输出 {output}",
    suggestions: "推荐追问",
    toolCall: "机器人请求调用工具（{names}）；网页聊天无法运行工具。",
    networkError: "连接已断开。",
    reconnecting: "正在重新连接…",
    jumpToLatest: "跳到最新",
    notFound: "该对话不存在或不属于你。",
    rateAnswer: "评价这条回答",
    like: "回答有帮助",
    unlike: "回答没帮助",
    feedbackFailed: "无法保存你的评价：{message}",
  },
};

const STORAGE_KEY = "botport.lang";
let current = pickLanguage();

function pickLanguage() {
  const saved = localStorage.getItem(STORAGE_KEY);
  if (saved && saved in STRINGS) return saved;
  return (navigator.language || "en").toLowerCase().startsWith("zh") ? "zh" : "en";
}

export function lang() {
  return current;
}

/** The string for `key`, with `{name}` placeholders filled from `values`. */
export function t(key, values = {}) {
  const text = STRINGS[current][key] ?? STRINGS.en[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (whole, name) => (name in values ? String(values[name]) : whole));
}

/** Translate the static page: data-i18n (text), data-i18n-aria (aria-label + title), data-i18n-placeholder. */
export function translatePage(root = document) {
  document.documentElement.lang = current === "zh" ? "zh-CN" : "en";
  for (const el of root.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
  for (const el of root.querySelectorAll("[data-i18n-aria]")) {
    el.setAttribute("aria-label", t(el.dataset.i18nAria));
    el.title = t(el.dataset.i18nAria);
  }
  for (const el of root.querySelectorAll("[data-i18n-placeholder]")) {
    el.placeholder = t(el.dataset.i18nPlaceholder);
  }
}

export function setLanguage(next) {
  current = next in STRINGS ? next : "en";
  localStorage.setItem(STORAGE_KEY, current);
  translatePage();
  document.dispatchEvent(new CustomEvent("botport:language"));
}

export function toggleLanguage() {
  setLanguage(current === "zh" ? "en" : "zh");
}
