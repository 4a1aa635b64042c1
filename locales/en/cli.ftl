## en: cli

