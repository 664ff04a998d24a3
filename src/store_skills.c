/* placeholder: being written */
typedef int store_skills_placeholder;
