/* placeholder: being written */
typedef int store_groups_placeholder;
