/* placeholder: being written */
typedef int store_containers_placeholder;
