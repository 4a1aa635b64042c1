## en: keys

