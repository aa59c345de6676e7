module threadsfunctions.dev/tools/threadsim

go 1.26.8

require threadsfunctions.dev/shared v0.0.0

replace threadsfunctions.dev/shared => ../../shared
