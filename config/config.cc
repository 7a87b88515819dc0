// Written by the config work in progress.
