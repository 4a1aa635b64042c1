## The example in the i18n module's documentation (it is compiled and run as a doctest).

i18n-example = hello, { $name }
