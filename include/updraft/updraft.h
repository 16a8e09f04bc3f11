/* updraft: everything a firmware needs (the agent and the formats). */
#ifndef UPDRAFT_UPDRAFT_H
#define UPDRAFT_UPDRAFT_H

#include "updraft/agent.h"
#include "updraft/bootloader.h"
#include "updraft/error.h"
#include "updraft/image.h"
#include "updraft/manifest.h"
#include "updraft/otadata.h"
#include "updraft/partition.h"
#include "updraft/port.h"

#endif
