## en: app

