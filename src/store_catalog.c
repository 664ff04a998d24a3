/* placeholder: being written */
typedef int store_catalog_placeholder;
