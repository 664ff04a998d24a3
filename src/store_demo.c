/* placeholder: being written */
typedef int store_demo_placeholder;
