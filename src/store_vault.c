/* placeholder: being written */
typedef int store_vault_placeholder;
