## en: ui

