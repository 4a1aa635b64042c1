## en: time

