
L
B

service.name

service.name
a

service.name
later*s1



service.namespace
shop
*s2



service.name
b