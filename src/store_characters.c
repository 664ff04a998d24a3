/* placeholder: being written */
typedef int store_characters_placeholder;
