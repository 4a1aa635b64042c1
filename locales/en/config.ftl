## en: config

