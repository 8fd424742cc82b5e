module example.invalid/netns

go 1.19
