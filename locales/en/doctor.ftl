## en: doctor

