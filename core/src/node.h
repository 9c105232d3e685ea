/* What other parts of the public ABI layer need from a node. */
#ifndef RUPHIN_NODE_H
#define RUPHIN_NODE_H

#include "../include/ruphin.h" /* relative: the core compiles without -I */

#include <stdbool.h>

/* The largest Data payload the node sends (fixed at creation). */
int64_t rp_node_max_payload(const ruphin_node *node);

/* Whether ruphin_wake can reach the node (RUPHIN_OPT_ALLOW_INTERRUPT). */
bool rp_node_can_wake(const ruphin_node *node);

#endif
