## en: runtime

